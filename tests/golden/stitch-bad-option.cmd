stitch --top 3 net-a.plw
