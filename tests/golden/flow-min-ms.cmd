flow --all --min-ms 4 basic.plw
