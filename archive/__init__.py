"""The archive: database models, schema migrations, export and the command line."""
