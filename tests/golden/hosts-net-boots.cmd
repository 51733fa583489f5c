hosts boot-a.plw boot-b.plw
