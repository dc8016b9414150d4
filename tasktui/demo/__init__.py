"""`tasktui demo`: an embedded Postgres with authentik's tables and simulated workers."""
