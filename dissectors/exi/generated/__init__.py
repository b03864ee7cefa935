"""Generated EXI grammar tables, one module per schema set (tools/exigen writes them)."""
