timeline --json --tid 4822 basic.plw
