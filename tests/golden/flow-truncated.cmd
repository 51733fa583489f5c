flow --all truncated.plw
