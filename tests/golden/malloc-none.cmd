malloc basic.plw
