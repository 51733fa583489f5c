nplus1 --min 2 basic.plw
