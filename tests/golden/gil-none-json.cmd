gil --json basic.plw
