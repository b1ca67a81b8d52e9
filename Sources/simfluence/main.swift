import SimfluenceCommands

await SimfluenceCommand.main()
