flow --all --json net-odd.plw
