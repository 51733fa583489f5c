stitch net-odd.plw
