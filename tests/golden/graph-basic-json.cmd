graph --json basic.plw
