timeline --threshold 40 --tid 4821 basic.plw
