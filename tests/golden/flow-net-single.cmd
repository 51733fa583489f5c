flow --last net-a.plw
