import SimfluenceCommands

SimfluenceCommand.main()
