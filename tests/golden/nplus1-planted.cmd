nplus1 ana-nplus1.plw
