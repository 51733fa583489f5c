single --json --nth 9 call_llm_chain basic.plw
