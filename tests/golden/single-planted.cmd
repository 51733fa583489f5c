single --nth 1 load_page ana-nplus1.plw
