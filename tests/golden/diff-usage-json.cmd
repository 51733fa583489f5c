diff --json --before basic.plw
