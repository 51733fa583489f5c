flow --threshold 3 basic.plw
