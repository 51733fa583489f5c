timeline --json weird.plw
