timeline lost.plw
