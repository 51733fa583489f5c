info --json basic.plw
