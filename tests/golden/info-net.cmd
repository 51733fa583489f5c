info netrec.plw
