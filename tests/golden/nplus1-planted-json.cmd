nplus1 --json ana-nplus1.plw
