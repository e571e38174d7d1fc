from image2ad.cli import main

main()
