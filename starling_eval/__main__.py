from starling_eval.cli import main

main()
