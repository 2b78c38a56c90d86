from robowatch.cli.main import main

main()
