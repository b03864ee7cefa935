from chargescope.cli import main

main()
