flow --json weird.plw
