timeline --threshold 3 basic.plw returns.plw
