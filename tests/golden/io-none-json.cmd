io --json basic.plw
