single --json --nth 2 call_llm_chain basic.plw
