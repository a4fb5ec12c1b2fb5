"""One module per `garment-studio` subcommand (see app.cli.main)."""
