"""Report helpers: offline altair charts, image figures, tables and glue."""
