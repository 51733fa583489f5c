flow --top 2 --depth 1 basic.plw
