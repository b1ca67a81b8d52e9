@_exported import SimfluenceCore
