single handle_request basic.plw
