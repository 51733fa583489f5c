threads basic.plw
