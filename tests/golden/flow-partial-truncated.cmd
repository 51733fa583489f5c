flow --all partial-truncated.plw
