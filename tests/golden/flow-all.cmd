flow --all basic.plw
