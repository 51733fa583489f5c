slow basic.plw
