flow --strict cut.plw.partial
