flow --all net-odd.plw
