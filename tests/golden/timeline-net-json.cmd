timeline --json netrec.plw
