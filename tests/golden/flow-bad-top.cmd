flow --top x basic.plw
