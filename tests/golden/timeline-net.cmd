timeline netrec.plw
