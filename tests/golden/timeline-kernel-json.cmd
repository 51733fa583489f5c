timeline --json kernel.plw
