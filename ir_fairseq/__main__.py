from ir_fairseq.cli import main

main()
