flow --last boot-a.plw boot-b.plw
