slow --threshold 5 basic.plw
